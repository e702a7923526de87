export const handler = async (event, context) => ({ esm: true, functionName: context.functionName, event });
