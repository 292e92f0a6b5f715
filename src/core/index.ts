export * from './errors.js';
export * from './ids.js';
export * from './clock.js';
export * from './config.js';
export * from './canonical-json.js';
export * from './hash.js';
export * from './keyring.js';
export * from './dsse.js';
