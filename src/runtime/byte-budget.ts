/**
 * A byte budget shared by several apps: the server-wide cap on input bytes
 * held by requests waiting in the apps' queues (limits.maxQueuedBytes). Each
 * queued request takes its input's length and gives it back when it leaves
 * the queue, so the total never exceeds the limit whatever the per-app
 * queue_limit says.
 */
export class ByteBudget {
  private usedBytes = 0;

  constructor(readonly limit: number) {}

  get used(): number {
    return this.usedBytes;
  }

  /** Takes n bytes if they fit; false (nothing taken) if not. */
  take(n: number): boolean {
    if (this.usedBytes + n > this.limit) return false;
    this.usedBytes += n;
    return true;
  }

  /** Takes n bytes whether or not they fit: for a request already accepted
   * that goes back into a queue (it was counted before, given back on dispatch). */
  hold(n: number): void {
    this.usedBytes += n;
  }

  give(n: number): void {
    this.usedBytes -= n;
  }
}
