exports.create = async () => ({ statusCode: 201 });
exports.list = async () => ({ statusCode: 200, body: '[]' });
exports.hook = async () => {};
