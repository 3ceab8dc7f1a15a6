#include "bridge/crypto.hpp"

#include "bridge/pg.hpp"

extern "C" {
#include "storage/ipc.h"
}

namespace keel::bridge {

namespace {

core::Aes256Gcm* g_gcm = nullptr;  // plain pointer: no static constructor at dlopen

void FreeGcm(int, Datum) {
    delete g_gcm;
    g_gcm = nullptr;
}

}  // namespace

core::Aes256Gcm& BackendGcm() {
    if (g_gcm == nullptr) {
        g_gcm = new core::Aes256Gcm();
        on_proc_exit(FreeGcm, 0);
    }
    return *g_gcm;
}

}  // namespace keel::bridge
