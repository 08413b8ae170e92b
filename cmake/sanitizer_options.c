/* Linked into every program of the asan build (CMakeLists.txt).
 *
 * allow_user_poisoning=0: recq's code is instrumented, Debian's libLLVM and
 * libMLIR are not, and both run the same inline allocator code from LLVM's
 * headers on the same allocators: BumpPtrAllocator::Deallocate compiled
 * into recq poisons bytes that libMLIR's uninstrumented copy hands out again
 * without unpoisoning, so ASan would report uses of them that are not bugs
 * (found as a "use-after-poison" inside RankedTensorType::get). Only that
 * manual poisoning is off; every heap, stack and global check stays. */
const char *__asan_default_options(void) { return "allow_user_poisoning=0"; }
