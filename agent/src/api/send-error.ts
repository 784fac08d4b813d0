// The API's error reply: `{code, message, exitCode}` with the HTTP status and CLI exit code the
// error catalogue (protocol/errors.ts) gives the code.
import type { FastifyReply } from 'fastify';
import { ERRORS, type ErrorCode } from '../../../protocol/errors.js';

export function sendError(reply: FastifyReply, code: ErrorCode, message: string, status: number = ERRORS[code].http): FastifyReply {
  return reply.code(status).send({ code, message, exitCode: ERRORS[code].exit });
}
