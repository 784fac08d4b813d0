// The API's error reply: `{code, message}` with the HTTP status the error catalogue gives the code
// (protocol/console-api.ts HTTP_ERRORS); a bad request also carries the CLI's usage exit code.
import type { FastifyReply } from 'fastify';
import { HTTP_ERRORS, type HttpErrorCode } from '../../../protocol/console-api.js';
import { EXIT_USAGE } from '../util/errors.js';

export function sendError(reply: FastifyReply, code: HttpErrorCode, message: string): FastifyReply {
  return reply.code(HTTP_ERRORS[code]).send({ code, message, ...(code === 'E_BAD_REQUEST' ? { exitCode: EXIT_USAGE } : {}) });
}
