/** The Seatwatch client library: `createSeatwatchClient({ url, token })`. */
export {
  createSeatwatchClient,
  webSocketUrl,
  type ClosedReason,
  type ConnectionState,
  type ConnectionStateChange,
  type HoldHandler,
  type HoldMessage,
  type LineProgress,
  type MessageHandler,
  type QueueProgressHandler,
  type SeatsHandler,
  type SeatState,
  type SeatwatchClient,
  type SeatwatchClientOptions,
  type StateHandler,
  type TokenRefreshErrorHandler,
  type TokenRefreshFailure,
  type TokenSource,
  TokenRefreshError,
} from './seatwatch-client';
export { reconnectDelayMs, type BackoffSettings } from './backoff';
export { placeInLine } from './line-progress';
export type { Timers } from './timers';
export type { QueueProgress, ReleaseReason, SeatMessageType, ServerMessage, ServerMessageType } from '../protocol';
