-- Row level security of feature 042 (revision b7e41d09c5a2, api/alembic/versions/002_lesson_progress.py).
-- The migration executes these exact statements; edit both together.
--
-- lesson_objectives  anon + authenticated read the catalogue; only service_role writes it.
-- student_progress   a student reads their own records; an instructor reads and writes the records of
--                    students they teach (a lesson together) or mentor (primary instructor), signing
--                    them as evaluator; anon nothing; service_role everything.
-- lessons            unchanged: debrief_notes is written through lessons_update_instructor (001).

-- Whether the calling instructor coaches a student. SECURITY DEFINER so the check can read lessons and
-- students whatever their own policies say, without the policies recursing into each other.
CREATE FUNCTION public.coaches_student(target_student uuid) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = ''
    AS $$
    SELECT EXISTS (
        SELECT 1
        FROM public.instructors AS i
        WHERE i.user_id = auth.uid()
          AND (
            EXISTS (SELECT 1 FROM public.students AS s
                    WHERE s.id = target_student AND s.primary_instructor_id = i.id)
            OR EXISTS (SELECT 1 FROM public.lessons AS l
                       WHERE l.student_id = target_student AND l.instructor_id = i.id)
          )
    )
    $$;

-- lesson_objectives
ALTER TABLE public.lesson_objectives ENABLE ROW LEVEL SECURITY;
CREATE POLICY lesson_objectives_select_everyone ON public.lesson_objectives
    FOR SELECT TO anon, authenticated USING (true);
CREATE POLICY lesson_objectives_all_service_role ON public.lesson_objectives
    FOR ALL TO service_role USING (true) WITH CHECK (true);

-- student_progress
ALTER TABLE public.student_progress ENABLE ROW LEVEL SECURITY;
CREATE POLICY student_progress_select_own ON public.student_progress
    FOR SELECT TO authenticated USING (student_id = (SELECT public.current_student_id()));
CREATE POLICY student_progress_select_coach ON public.student_progress
    FOR SELECT TO authenticated USING (public.coaches_student(student_id));
CREATE POLICY student_progress_insert_coach ON public.student_progress
    FOR INSERT TO authenticated
    WITH CHECK (public.coaches_student(student_id) AND evaluated_by = (SELECT public.current_instructor_id()));
CREATE POLICY student_progress_update_coach ON public.student_progress
    FOR UPDATE TO authenticated
    USING (public.coaches_student(student_id))
    WITH CHECK (public.coaches_student(student_id) AND evaluated_by = (SELECT public.current_instructor_id()));
CREATE POLICY student_progress_all_service_role ON public.student_progress
    FOR ALL TO service_role USING (true) WITH CHECK (true);
CREATE POLICY student_progress_deny_anon ON public.student_progress
    AS RESTRICTIVE FOR ALL TO anon USING (false) WITH CHECK (false);

-- Table privileges as Supabase's API expects them; the policies above decide which rows.
GRANT SELECT ON public.lesson_objectives TO anon, authenticated;
GRANT SELECT, INSERT, UPDATE ON public.student_progress TO authenticated;
GRANT ALL ON public.lesson_objectives, public.student_progress TO service_role;
