export { conversation } from './conversation.js';
export { message } from './message.js';
