export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** polls cond every 50 ms; the failure names what never happened */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await sleep(50);
  }
}
