/**
 * A module resolve hook that lets Node load TF.js's gradient definitions.
 *
 * @tensorflow/tfjs-core's Node bundle (dist/tf-core.node.js) holds the ops and the autodiff engine
 * but none of the per-op gradient functions: those are registered by the side-effect module
 * `dist/register_all_gradients.js` (the @tensorflow/tfjs umbrella package imports it). That module
 * and the files it imports are ES modules with extensionless relative imports (`'./gradients/Abs_grad'`),
 * written for bundlers, which Node's ESM loader refuses. This hook retries such an import with
 * `.js` (then `/index.js`), only for files inside tfjs-core's dist folder.
 *
 * Loading them creates a second copy of some tfjs-core internals, which is harmless: TF.js keeps
 * its engine and its kernel and gradient registries on the global object, and `instanceof Tensor`
 * is duck-typed, precisely so that several copies of the library cooperate.
 */
import type { ResolveHook } from 'node:module';

const TFJS_CORE_DIST = '/@tensorflow/tfjs-core/dist/';

export const resolve: ResolveHook = async (specifier, context, nextResolve) => {
  try {
    return await nextResolve(specifier, context);
  } catch (err) {
    const code = (err as { code?: string }).code;
    const retry =
      (code === 'ERR_MODULE_NOT_FOUND' || code === 'ERR_UNSUPPORTED_DIR_IMPORT') &&
      specifier.startsWith('.') &&
      !specifier.endsWith('.js') &&
      context.parentURL !== undefined &&
      context.parentURL.includes(TFJS_CORE_DIST);
    if (!retry) throw err;
    try {
      return await nextResolve(`${specifier}.js`, context);
    } catch {
      return await nextResolve(`${specifier}/index.js`, context);
    }
  }
};
