/** Start-up's one line when the port is taken. */
export class PortInUseError extends Error {
  constructor(readonly port: number) {
    super(`port ${port} is in use`);
    this.name = 'PortInUseError';
  }
}

export function isAddressInUse(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === 'EADDRINUSE';
}

/**
 * Binds `port` on `hostname` alone for a moment and lets it go: the port it got (a free one for
 * 0), or PortInUseError when anything holds it. The bind is exclusive (no SO_REUSEPORT), so a
 * group of servers sharing the port counts as holding it too.
 */
export function claimPort(hostname: string, port: number): number {
  let probe: Bun.TCPSocketListener<undefined>;
  try {
    probe = Bun.listen({ hostname, port, socket: { data() {} } });
  } catch (error) {
    if (isAddressInUse(error)) throw new PortInUseError(port);
    throw error;
  }
  const claimed = probe.port;
  probe.stop(true);
  return claimed;
}
