// The stand-in for mpi_communicator.cpp in a binary built without MPI.
#include "dist/mpi_world.h"

namespace dsv3::dist {

bool built_with_mpi() { return false; }
Result<std::unique_ptr<Communicator>> open_mpi(int*, char***) {
  return make_error("this dsv3 was built without MPI (configure with -DDSV3_MPI=ON and libopenmpi-dev installed)");
}
void finalize_mpi() {}

}  // namespace dsv3::dist
