/** Node flags that let a worker thread started from the TypeScript sources load them (see ts-loader.mjs). */
export function tsWorkerExecArgv(): string[] {
  const loader = new URL('./ts-loader.mjs', import.meta.url).href;
  const register = `import { register } from 'node:module'; register(${JSON.stringify(loader)});`;
  return ['--import', `data:text/javascript,${encodeURIComponent(register)}`];
}
