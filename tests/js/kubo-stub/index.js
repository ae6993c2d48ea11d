'use strict'
// See package.json: the compliance suite never calls this.
module.exports.path = () => { throw new Error('kubo stub: no Kubo binary is installed') }
