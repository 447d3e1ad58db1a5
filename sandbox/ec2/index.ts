export { startEc2Emulator, type Ec2Emulator, type Ec2Image } from './emulator.js';
export { verifySigV4 } from './sigv4.js';
