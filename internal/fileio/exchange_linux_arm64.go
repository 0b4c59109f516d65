package fileio

const sysRenameat2Arch = 276
