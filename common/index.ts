export * from './errors.js';
export * from './logger.js';
export * from './yaml.js';
export * from './labels.js';
export * from './names.js';
