//! [`Kiln::build_image`]: one platform built by [`crate::single`], several by [`crate::multi`].

use kiln_core::{BuildReport, BuildSpec, EventSink, Result};
use tracing::Instrument;

use crate::kiln::Kiln;
use crate::{multi, single};

impl Kiln {
    /// Builds `spec` (or reuses the image its inputs already made) and reports what happened.
    pub async fn build_image(&self, spec: &BuildSpec) -> Result<BuildReport> {
        self.build_image_with_events(spec, EventSink::discard())
            .await
    }

    /// Builds `spec`, sending progress to `events`. A spec that names no platform is built for
    /// every configured platform when the configuration's `multi_platform` is on.
    pub async fn build_image_with_events(
        &self,
        spec: &BuildSpec,
        events: EventSink,
    ) -> Result<BuildReport> {
        let configured = self.config().default_platforms();
        if spec.platform.is_none() && spec.platforms.is_empty() && !configured.is_empty() {
            let mut every = spec.clone();
            every.platforms = configured;
            return self.build_one_or_many(&every, events).await;
        }
        self.build_one_or_many(spec, events).await
    }

    /// Builds `spec` as it says: one platform, or each of several.
    pub(crate) async fn build_one_or_many(
        &self,
        spec: &BuildSpec,
        events: EventSink,
    ) -> Result<BuildReport> {
        // The fields are filled in once the plan knows them (`single::run`).
        let span = tracing::info_span!(
            "build",
            context = %spec.context.display(),
            tag = tracing::field::Empty,
            fingerprint = tracing::field::Empty,
            builder = tracing::field::Empty,
        );
        async {
            if spec.platforms.len() > 1 {
                return multi::run(self, spec, events).await;
            }
            single::run(self, spec, events).await
        }
        .instrument(span)
        .await
    }
}
