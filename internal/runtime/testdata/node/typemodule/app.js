export async function handler() {
  return { module: 'esm via package.json' };
}
