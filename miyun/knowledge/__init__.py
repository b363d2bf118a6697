"""What the assistant knows and says: the content model and its validation (`content`), editing
(`content_edit`), build and publish into `content.db` (`build`, `publish`), the published content
store (`store`), search, answer wording (`answers`), opening hours (`hours`), grouping of
unanswered questions (`unanswered`) and the `content` command line (`cli`)."""
