import { createEvent, loginDemoUser } from '../api';
import { createBenchDatabase } from '../database';
import { startBareServer, startSeatwatchServer, startWatchers, type ServerChild, type WatcherGroup } from '../processes';
import { Teardown, waitUntil, type Progress, type Scenario } from '../scenario';
import { round } from '../stats';
import { formatTable } from '../table';

/**
 * Server memory per connection: RSS after a full GC with N watchers subscribed to one event,
 * minus RSS after a full GC before they came (after a warm-up round, so code and pools that
 * the first connections bring are not charged to them), over N. Everything the server keeps per
 * connection counts: Bun's socket, Elysia's wrapper, the manager's maps, the topic subscription.
 * The bare Bun.serve server is measured the same way beside it.
 */

const WARMUP_CONNECTIONS = 200;

async function settledRssMB(server: ServerChild): Promise<number> {
  // Two collections a moment apart: the first frees, the second sees what the allocator kept.
  await server.request('rss', { gc: true });
  await Bun.sleep(200);
  return (await server.request<{ rssMB: number }>('rss', { gc: true })).rssMB;
}

async function perConnectionKB(label: string, server: ServerChild, watchers: WatcherGroup, url: string, n: number, progress: Progress) {
  await watchers.connect(url, Math.min(WARMUP_CONNECTIONS, n));
  await watchers.closeAll();
  await waitUntil(async () => (await server.connections()) === 0, 30_000, `${label} warm-up watchers to leave`);
  const beforeMB = await settledRssMB(server);
  progress(`connections/${label}: ${n} watchers`);
  await watchers.connect(url, n);
  await waitUntil(async () => (await server.connections()) >= n, 30_000, `${label} to count ${n} connections`);
  const afterMB = await settledRssMB(server);
  await watchers.closeAll();
  return { beforeMB, afterMB, kbPerConnection: ((afterMB - beforeMB) * 1024) / n };
}

export const runConnections: Scenario = async (options, progress) => {
  const n = options.n ?? 10_000;
  const teardown = new Teardown();
  try {
    const database = teardown.add(await createBenchDatabase('connections'), (db) => db.drop());
    const seatwatch = teardown.add(await startSeatwatchServer({ databaseUrl: database.url }), (child) => child.stop());
    const bare = teardown.add(await startBareServer(), (child) => child.stop());
    const watchers = teardown.add(await startWatchers(n), (group) => group.stop());
    const token = await loginDemoUser(seatwatch.baseUrl);
    const event = await createEvent(seatwatch.baseUrl, token, 100);

    const seatwatchMemory = await perConnectionKB('seatwatch', seatwatch, watchers, `${seatwatch.wsBase}/ws/events/${event.id}?token=${token}`, n, progress);
    const bareMemory = await perConnectionKB('bare', bare, watchers, `${bare.wsBase}/ws`, n, progress);

    const json = {
      scenario: 'connections',
      n,
      rssPerConnectionKB: round(seatwatchMemory.kbPerConnection),
      rssBeforeMB: round(seatwatchMemory.beforeMB, 1),
      rssAfterMB: round(seatwatchMemory.afterMB, 1),
      bare: { rssPerConnectionKB: round(bareMemory.kbPerConnection) },
      ratio: round(seatwatchMemory.kbPerConnection / bareMemory.kbPerConnection, 2),
      databaseKind: database.kind,
    };
    const table = formatTable(
      `connections: ${n.toLocaleString('en-US')} watchers on one event (${database.kind})`,
      ['server', 'RSS before MB', `RSS with ${n} MB`, 'KB per connection'],
      [
        ['seatwatch', seatwatchMemory.beforeMB, seatwatchMemory.afterMB, seatwatchMemory.kbPerConnection],
        ['bare Bun.serve', bareMemory.beforeMB, bareMemory.afterMB, bareMemory.kbPerConnection],
      ],
    );
    return { json, table };
  } finally {
    await teardown.run();
  }
};
