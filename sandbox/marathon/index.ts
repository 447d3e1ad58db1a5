export { marathonHandlers, MESOS_VERSION, MARATHON_VERSION } from './emulator.js';
