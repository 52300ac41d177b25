/**
 * Counts `server.publish` calls and the event-loop turns they fall in. uWS holds what is
 * published during a turn and writes it to each subscriber in one go at the turn's end, so the
 * messages per publishing turn decide how many socket writes a delivery costs — the figure that
 * tells a batched burst from one message per write.
 */
import type { Publisher } from '../src/services/websocket';

export interface PublishTurns {
  publishes: number;
  turns: number;
}


export function countPublishTurns(server: Publisher): () => PublishTurns {
  const counts: PublishTurns = { publishes: 0, turns: 0 };
  let inTurn = false;
  const publish = server.publish.bind(server);
  server.publish = (topic, data) => {
    counts.publishes += 1;
    if (!inTurn) {
      inTurn = true;
      counts.turns += 1;
      setImmediate(() => {
        inTurn = false;
      });
    }
    return publish(topic, data);
  };
  return () => ({ ...counts });
}
