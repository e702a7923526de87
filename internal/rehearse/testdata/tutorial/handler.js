'use strict';

// The tutorial's function: it answers, and knows nothing of rehearsals.
exports.hello = async () => ({ statusCode: 200, body: JSON.stringify({ message: 'hello' }) });
