throw new Error('init failed on purpose');
