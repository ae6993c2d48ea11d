'use strict'
// Preload (node --require) for @ipfs-shipyard/pinning-service-compliance on a machine without the
// internet: the suite downloads the Pinning Service API spec (v1.0.0) from GitHub to validate
// responses against its schemas. This answers that one request with the spec's component
// schemas, written down here from ipfs/pinning-services-api-spec v1.0.0 (ipfs-pinning-service.yaml,
// `components.schemas`; descriptions and examples left out). Every other request is untouched.
const https = require('node:https')
const { EventEmitter } = require('node:events')
const { PassThrough } = require('node:stream')

const SPEC_HOST = 'raw.githubusercontent.com'
const SPEC_PATH = '/ipfs/pinning-services-api-spec/v1.0.0/ipfs-pinning-service.yaml'
const ref = (name) => ({ $ref: `#/components/schemas/${name}` })
const strings = { type: 'object', additionalProperties: { type: 'string', minProperties: 0, maxProperties: 1000 } }

const SPEC = {
  openapi: '3.0.0',
  info: { version: '1.0.0', title: 'IPFS Pinning Service API' },
  paths: {},
  components: {
    schemas: {
      PinResults: {
        type: 'object',
        required: ['count', 'results'],
        properties: {
          count: { type: 'integer', format: 'int32', minimum: 0 },
          results: { type: 'array', items: ref('PinStatus'), uniqueItems: true, minItems: 0, maxItems: 1000 }
        }
      },
      PinStatus: {
        type: 'object',
        required: ['requestid', 'status', 'created', 'pin', 'delegates'],
        properties: {
          requestid: { type: 'string' },
          status: ref('Status'),
          created: { type: 'string', format: 'date-time' },
          pin: ref('Pin'),
          delegates: ref('Delegates'),
          info: ref('StatusInfo')
        }
      },
      Pin: {
        type: 'object',
        required: ['cid'],
        properties: {
          cid: { type: 'string' },
          name: { type: 'string', maxLength: 255 },
          origins: ref('Origins'),
          meta: ref('PinMeta')
        }
      },
      Status: { type: 'string', enum: ['queued', 'pinning', 'pinned', 'failed'] },
      Delegates: { type: 'array', items: { type: 'string' }, uniqueItems: true, minItems: 1, maxItems: 20 },
      Origins: { type: 'array', items: { type: 'string' }, uniqueItems: true, minItems: 0, maxItems: 20 },
      PinMeta: strings,
      StatusInfo: strings,
      TextMatchingStrategy: { type: 'string', default: 'exact', enum: ['exact', 'iexact', 'partial', 'ipartial'] },
      Failure: {
        type: 'object',
        required: ['error'],
        properties: {
          error: {
            type: 'object',
            required: ['reason'],
            properties: { reason: { type: 'string' }, details: { type: 'string' } }
          }
        }
      }
    }
  }
}

const originalGet = https.get
https.get = function get (options, ...rest) {
  const url = typeof options === 'string' || options instanceof URL ? new URL(options) : null
  const host = url ? url.hostname : (options.hostname || options.host)
  const path = url ? url.pathname : options.path
  if (host !== SPEC_HOST || path !== SPEC_PATH) {
    return originalGet.call(this, options, ...rest)
  }
  const req = new EventEmitter()
  req.setTimeout = () => req
  req.abort = req.destroy = req.end = () => {}
  const res = new PassThrough()
  res.statusCode = 200
  res.headers = { 'content-type': 'application/json' }
  process.nextTick(() => {
    req.emit('response', res)
    res.end(JSON.stringify(SPEC))
  })
  return req
}
