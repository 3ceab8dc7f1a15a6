// C++ objects whose lifetime is a PostgreSQL memory context: created with new, deleted
// by a reset callback of the context (so a per-statement trigger plan can own an
// OpenSSL context and nothing leaks when the statement ends or fails).
#pragma once

#include <new>
#include <utility>

#include "bridge/pg.hpp"

namespace keel::bridge {

template <typename T, typename... Args>
T* NewOwnedBy(MemoryContext context, Args&&... args) {
    // The callback first: if palloc fails nothing C++ exists yet.
    auto* cb = static_cast<MemoryContextCallback*>(
        MemoryContextAllocZero(context, sizeof(MemoryContextCallback)));
    T* object = new T(std::forward<Args>(args)...);
    cb->func = [](void* p) { delete static_cast<T*>(p); };
    cb->arg = object;
    MemoryContextRegisterResetCallback(context, cb);
    return object;
}

}  // namespace keel::bridge
