"""Reports: the console's board and the centre's figures."""
