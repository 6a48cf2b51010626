/** Events per second over the last `windowMs` (steps, redraws): what the page reports as speed. */
export class Rate {
  private times: number[] = [];
  constructor(private readonly windowMs = 2000) {}

  tick(now = performance.now(), count = 1): void {
    for (let i = 0; i < count; i++) this.times.push(now);
    this.trim(now);
  }

  reset(): void {
    this.times = [];
  }

  perSecond(now = performance.now()): number {
    this.trim(now);
    if (this.times.length < 2) return 0;
    const span = Math.max(now - this.times[0]!, 1);
    return ((this.times.length - 1) * 1000) / span;
  }

  private trim(now: number): void {
    let i = 0;
    while (i < this.times.length && now - this.times[i]! > this.windowMs) i++;
    if (i > 0) this.times.splice(0, i);
  }
}
