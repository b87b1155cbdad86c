# genorisk from the repository root: the workflow is workflow/Snakefile (the
# snakemake-workflows layout). profiles/default links to workflow/profiles/default,
# where Snakemake finds every rule's threads and memory when run from here.
include: "workflow/Snakefile"


# An included file's default target does not carry over, so name it again here.
rule default:
    default_target: True
    input:
        rules.all.input,
