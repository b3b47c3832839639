// Compile-time fence around the pure policy code: scheduling rules (priorities,
// limits, peak windows, backoff, estimates) written in plain C++17, with no
// PostgreSQL headers, so they can be unit-tested and reasoned about on their own.
//
// Every policy header includes this file first.
#pragma once

// postgres.h defines POSTGRES_H as its include guard. Its macros (snprintf,
// printf, Min, Max, gettext, Assert, ...) silently change the meaning of standard
// C++ code, and anything from it would tie the policy to a server process.
// Translation units that use both include the policy headers before the
// PostgreSQL header, like any other standard header; the CMake build, which has
// no PostgreSQL include path, catches a policy source that includes it.
#ifdef POSTGRES_H
#error "queue policy code must not include PostgreSQL headers"
#endif
