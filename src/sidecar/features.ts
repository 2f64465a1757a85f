/**
 * Optional feature modules (vector, neon, advisors) register collectors, engine handlers, routes
 * and gates when loaded: the sidecar and every query worker load the same set.
 */
export function loadFeatureModules(): void {
  for (const m of ['./vector', './neon', './advisors', './plans']) {
    try {
      require(m);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code !== 'MODULE_NOT_FOUND' || !String(err.message).includes(m.slice(2))) {
        throw e;
      }
    }
  }
}
