/**
 * Counts the messages handed to `server.publish` and the event-loop turns they fall in. uWS holds what is
 * published during a turn and writes it to each subscriber in one go at the turn's end, so the
 * messages per publishing turn decide how many socket writes a delivery costs — the figure that
 * tells a batched burst from one message per write.
 */
/** The part of Bun's server that is counted: `server.publish`. */
export interface Publisher {
  publish(topic: string, data: string): number;
}

export interface PublishTurns {
  publishes: number;
  turns: number;
}

export function countPublishTurns(server: Publisher): () => PublishTurns {
  const counts: PublishTurns = { publishes: 0, turns: 0 };
  /** The messages of this turn: Seatwatch publishes one message to each of an event's slice topics, and a watcher is in one. */
  let messagesThisTurn: Set<string> | null = null;
  const publish = server.publish.bind(server);
  server.publish = (topic, data) => {
    if (!messagesThisTurn) {
      messagesThisTurn = new Set();
      counts.turns += 1;
      setImmediate(() => {
        messagesThisTurn = null;
      });
    }
    if (!messagesThisTurn.has(data)) {
      messagesThisTurn.add(data);
      counts.publishes += 1;
    }
    return publish(topic, data);
  };
  return () => ({ ...counts });
}
