/*
 * The error table's lookups and the GNU-format diagnostic printer.
 */
#include "core/base/err.h"

#include <errno.h>
#include <stdarg.h>

static const char *const adj_err_names[ADJ_ERR_COUNT] = {
#define ADJ_ERR_NAME(name, msg) #name,
    ADJ_ERR_MAP(ADJ_ERR_NAME)
#undef ADJ_ERR_NAME
};

static const char *const adj_err_messages[ADJ_ERR_COUNT] = {
#define ADJ_ERR_MSG(name, msg) msg,
    ADJ_ERR_MAP(ADJ_ERR_MSG)
#undef ADJ_ERR_MSG
};

const char *adj_err_name(enum adj_err err)
{
    if ((unsigned)err >= ADJ_ERR_COUNT) {
        return "E_UNKNOWN";
    }
    return adj_err_names[err];
}

const char *adj_err_message(enum adj_err err)
{
    if ((unsigned)err >= ADJ_ERR_COUNT) {
        return "unknown error";
    }
    return adj_err_messages[err];
}

enum adj_err adj_err_from_errno(int negative_errno)
{
    switch (-negative_errno) {
    case 0: return ADJ_OK;
    case ENOMEM: return ADJ_E_NOMEM;
    case ENOENT:
    case EACCES:
    case EISDIR:
    case ENOTDIR: return ADJ_E_OPEN;
    default: return ADJ_E_IO;
    }
}

void adj_diag_set(struct adj_diag *diag, enum adj_err code, const char *file_name,
                  uint64_t line, uint32_t column, const char *detail_fmt, ...)
{
    diag->code = code;
    diag->file_name = file_name;
    diag->line = line;
    diag->column = column;
    diag->field_index = UINT32_MAX;
    diag->detail[0] = '\0';
    if (detail_fmt != NULL) {
        va_list ap;
        va_start(ap, detail_fmt);
        vsnprintf(diag->detail, sizeof diag->detail, detail_fmt, ap);
        va_end(ap);
    }
}

void adj_diag_print(FILE *out, const struct adj_diag *diag)
{
    const char *file = diag->file_name != NULL ? diag->file_name : "<input>";
    if (diag->line > 0 && diag->column > 0) {
        fprintf(out, "%s:%llu:%u: ", file, (unsigned long long)diag->line, diag->column);
    } else if (diag->line > 0) {
        fprintf(out, "%s:%llu: ", file, (unsigned long long)diag->line);
    } else {
        fprintf(out, "%s: ", file);
    }
    fprintf(out, "error: %s%s%s [%s]\n", adj_err_message(diag->code),
            diag->detail[0] != '\0' ? ": " : "", diag->detail, adj_err_name(diag->code));
}
