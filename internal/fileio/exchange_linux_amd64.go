package fileio

const sysRenameat2Arch = 316
