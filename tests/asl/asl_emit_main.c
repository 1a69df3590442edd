/*
 * `orchestra asl` as a standalone program, for tests: argv is what the
 * orchestra dispatcher passes (argv[0] is the subcommand's name).
 */
int orc_cli_asl(int argc, char **argv);

int main(int argc, char **argv)
{
	return orc_cli_asl(argc, argv);
}
