import type { RequestHandler } from 'express';
import { safeEqual } from '../runtime/secrets.js';
import { HttpError } from './http-errors.js';

/** `Authorization: Bearer <ADMIN_TOKEN>` on every /api route; roles and sessions come with the console. */
export function requireAdmin(adminToken: string): RequestHandler {
  return (req, _res, next) => {
    const header = req.get('authorization') ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    if (!token || !safeEqual(token, adminToken)) return next(new HttpError(401, 'missing or invalid admin token'));
    next();
  };
}
