# Warnings for every target: -Wconversion is the one that catches an int64 rial
# truncated into an int. -Werror only when asked (CI), so a newer compiler's new
# warning never blocks a developer.
add_compile_options(
  -Wall -Wextra -Wshadow -Wconversion -Wsign-conversion -Wstrict-prototypes
  -Wmissing-prototypes -Wvla -Wformat=2 -Wundef -Wimplicit-fallthrough
  -Wfloat-equal -Wdouble-promotion -Wnull-dereference -Wno-format-nonliteral
  # snprintf truncating is the safe, intended behaviour (diagnostic text);
  # gcc guesses differently at -O0 and -O2, which made CI flaky.
  -Wno-format-truncation)
add_compile_definitions(_GNU_SOURCE)
if(ADJ_WERROR)
  add_compile_options(-Werror)
endif()
