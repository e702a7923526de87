exports.h = async () => ({})
