/** The web console (issue 15): the single-page app under /ui and its one-time login codes. */
export { LoginCodes, type LoginCodesOptions } from './login-codes.js';
export { mountConsole, consoleAssetsDir, type ConsoleOptions } from './server.js';
