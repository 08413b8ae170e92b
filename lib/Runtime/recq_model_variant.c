/*===- recq_model_variant.c - Which compiled variant a model runs ---------===*
 *
 * Part of the model runtime: a model.so holds the model compiled for one
 * or more targets (recq-compile --targets), best first. At load the
 * runtime runs the first variant whose instruction sets this CPU and OS
 * have (recq_cpu.h: CPUID and XCR0), or the one RECQ_TARGET or the load
 * option names, refusing it when the CPU cannot run it. Nothing else
 * falls back: a variant is run on a CPU that has all it needs, or not.
 *
 *===----------------------------------------------------------------------===*/

#include "recq_model_internal.h"

#include "recq/Runtime/recq_cpu.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Appends printf-style to buf (size bytes, `*used` of them taken),
   truncating at its end. */
static void append(char *buf, size_t size, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t size, size_t *used, const char *fmt, ...) {
  if (*used + 1 >= size)
    return;
  va_list args;
  va_start(args, fmt);
  int n = vsnprintf(buf + *used, size - *used, fmt, args);
  va_end(args);
  if (n > 0)
    *used += (size_t)n < size - *used ? (size_t)n : size - *used - 1;
}

/* The names of the variants, comma separated, into buf. */
static void list_variants(const recq_model_desc *d, char *buf, size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < d->num_variants; ++i)
    append(buf, size, &used, "%s%s", i ? ", " : "", d->variants[i].target);
}

/* Runs `name` when it is a variant this CPU runs. */
static int pick_forced(recq_model *m, const char *name, const char *by,
                       recq_status *st) {
  const recq_model_desc *d = m->desc;
  for (int i = 0; i < d->num_variants; ++i) {
    const recq_variant_desc *v = &d->variants[i];
    if (strcmp(v->target, name) != 0)
      continue;
    char missing[128];
    if (recq_cpu_missing(v->cpu_features, missing, sizeof missing) > 0)
      return recq_internal_set_status(
          st, RECQ_ERR_CPU,
          "%s asks for the variant '%s', which needs %s; this CPU lacks "
          "it",
          by, name, missing);
    m->variant = v;
    snprintf(m->variant_reason, sizeof m->variant_reason, "%s=%s", by, name);
    return RECQ_OK;
  }
  char names[128];
  list_variants(d, names, sizeof names);
  return recq_internal_set_status(
      st, RECQ_ERR_ARGUMENT,
      "%s asks for the variant '%s'; this model has %s (recompile with "
      "--targets=...,%s)",
      by, name, names, name);
}

int recq_internal_pick_variant(recq_model *m, const char *forced,
                               const char *by, recq_status *st) {
  const recq_model_desc *d = m->desc;
  if (d->num_variants < 1 || !d->variants)
    return recq_internal_set_status(st, RECQ_ERR_ARGUMENT,
                                    "the model has no compiled variant");
  if (forced && *forced)
    return pick_forced(m, forced, by, st);
  /* The first, best first, whose features this CPU has; say why the ones
     before it were passed over. */
  char passed[160] = "";
  size_t used = 0;
  for (int i = 0; i < d->num_variants; ++i) {
    const recq_variant_desc *v = &d->variants[i];
    char missing[96];
    if (recq_cpu_missing(v->cpu_features, missing, sizeof missing) == 0) {
      m->variant = v;
      snprintf(m->variant_reason, sizeof m->variant_reason,
               "the best variant this CPU runs, of %d%s%s", d->num_variants,
               used ? "; " : "", passed);
      return RECQ_OK;
    }
    append(passed, sizeof passed, &used, "%s%s lacks %s", used ? ", " : "",
           v->target, missing);
  }
  return recq_internal_set_status(
      st, RECQ_ERR_CPU,
      "this CPU runs none of the model's variants (%s; recompile with "
      "--targets=generic)",
      passed);
}

const char *recq_model_target(const recq_model *m) {
  return m ? m->variant->target : NULL;
}

const char *recq_model_target_reason(const recq_model *m) {
  return m ? m->variant_reason : NULL;
}

int recq_model_num_variants(const recq_model *m) {
  return m ? m->desc->num_variants : -1;
}

const char *recq_model_variant(const recq_model *m, int i,
                               uint32_t *cpu_features) {
  if (!m || i < 0 || i >= m->desc->num_variants)
    return NULL;
  if (cpu_features)
    *cpu_features = m->desc->variants[i].cpu_features;
  return m->desc->variants[i].target;
}
