/*===- recq_status.c - Fill in a call's recq_status ------------------------===*
 *
 * Part of the model runtime: the code and message every failing call of
 * the C API (recq.h) leaves in its recq_status.
 *
 *===----------------------------------------------------------------------===*/

#include "recq_model_internal.h"

#include <stdarg.h>
#include <stdio.h>

int recq_internal_set_status(recq_status *st, int code, const char *fmt, ...) {
  if (st) {
    st->code = code;
    va_list args;
    va_start(args, fmt);
    vsnprintf(st->message, sizeof st->message, fmt, args);
    va_end(args);
  }
  return code;
}
