exports.create = async (event) => ({ order: 'created', input: event });
