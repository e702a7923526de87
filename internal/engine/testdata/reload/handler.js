const release = 'one';
const answer = (fn) => async () => ({ statusCode: 200, body: JSON.stringify({ fn, release }) });
exports.api = answer('api');
exports.live = answer('live');
exports.tick = answer('tick');
