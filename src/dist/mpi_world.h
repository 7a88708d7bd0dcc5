// The MPI side of World (mpi_communicator.cpp), present only where the
// binary is built with MPI; world.cpp calls it when mpirun started us.
#pragma once
#include <memory>

#include "dist/communicator.h"

namespace dsv3::dist {

// MPI_Init_thread (serialized: any thread may call, one at a time) and the
// world communicator.
Result<std::unique_ptr<Communicator>> open_mpi(int* argc, char*** argv);
void finalize_mpi();

}  // namespace dsv3::dist
