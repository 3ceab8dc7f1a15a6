#pragma once

namespace keel::pg {

// Registers every keel.* setting (one function, alphabetical, see gucs.cpp).
void RegisterGucs();

}  // namespace keel::pg
