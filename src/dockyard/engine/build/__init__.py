"""Build: Dockerfiles into images, as Docker's classic builder does (its transcript, its
cache rules), plus what BuildKit added that Dockerfiles now use (heredocs, RUN --mount,
SOURCE_DATE_EPOCH).

- service.py: BuildService, what the API calls (context in, messages out, prune)
- builder.py: one build: the stages the target needs, in parallel, the transcript;
  options.py: BuildOptions, what it is asked
- steps.py: one stage's instructions (RUN, COPY/ADD, metadata) with the cache
- parser.py, shell.py: the Dockerfile grammar and its word lexer
- config.py: the metadata-only instructions, shared with commit/import --change
- context.py: the context on disk, COPY/ADD's sources, checksums and layer tars
- files.py: what COPY/WORKDIR read of the image's layers; stagefiles.py: COPY --from
- mounts.py: RUN --mount; cache.py: the build_cache table; remote.py: git/URL contexts

Nothing is imported here, so engine/images can use config.py without a circle.
"""
