// Initialization that never finishes: top-level await on a promise that never settles.
setInterval(() => {}, 1000);
await new Promise(() => {});
export const handler = async () => 'unreachable';
