console.log('initializing');
exports.handler = async () => 'ready';
