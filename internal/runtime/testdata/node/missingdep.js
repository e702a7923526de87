require('left-pad-that-is-not-installed');
exports.handler = async () => 'unreachable';
