/** The Seatwatch client library: `createSeatwatchClient({ url, token })`. */
export {
  createSeatwatchClient,
  webSocketUrl,
  type ClosedReason,
  type ConnectionState,
  type ConnectionStateChange,
  type HoldHandler,
  type HoldMessage,
  type MessageHandler,
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
export type { Timers } from './timers';
export type { ReleaseReason, SeatMessageType, ServerMessage, ServerMessageType } from '../protocol';
