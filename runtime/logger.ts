import pino from 'pino';

// One logger for the whole process. Secrets never reach it: redact the usual places they hide.
export const logger = pino({
  level: process.env.LOG_LEVEL ?? (process.env.VITEST ? 'warn' : 'info'),
  redact: {
    paths: [
      '*.apiKey', '*.appSecret', '*.secret', '*.token', '*.aesKey', '*.encryptKey',
      '*.encodingAESKey', '*.verificationToken', '*.authorization', 'req.headers.authorization',
      'headers.authorization',
    ],
    censor: '[redacted]',
  },
});

export type Logger = typeof logger;
